//! Deploy pages (templates, scripts, settings) come with the deploy tasks (issue 10, part 6).
