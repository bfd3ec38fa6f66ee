//! Shared UI components.
