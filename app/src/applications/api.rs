//! Server functions of applications (the UI arrives with the application pages).
