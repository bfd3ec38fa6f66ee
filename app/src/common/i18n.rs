//! UI text in English and Chinese.
