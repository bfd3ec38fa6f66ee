//! Host pages (next).
