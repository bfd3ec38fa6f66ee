//! Server functions of hosts (the UI arrives with the host pages).
