//! Pages of this domain.
