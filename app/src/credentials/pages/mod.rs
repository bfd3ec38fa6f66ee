//! Pages of SSH access (credentials, a host's access settings) come with the host pages.
