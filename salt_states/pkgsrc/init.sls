{#- pkgsrc: everything the pillar asks for, in order.

    pkgsrc.bootstrap   pkgsrc itself in the host-wide prefix (pillar pkgsrc:bootstrap)
    pkgsrc.packages    the host-wide packages (pkgsrc:packages, pkgsrc:packages_absent)
    pkgsrc.service     config files and services of the host-wide prefix (pkgsrc:config_files, pkgsrc:services)
    pkgsrc.app         applications, each in its own prefix (pkgsrc:apps)

    Each part writes states only for what its pillar keys ask; see pillar.example.
    Not included: pkgsrc.rollout, the orchestration that rolls pkgsrc.app out in batches from the
    master (salt-run state.orchestrate pkgsrc.rollout). -#}
include:
  - pkgsrc.bootstrap
  - pkgsrc.packages
  - pkgsrc.service
  - pkgsrc.app
