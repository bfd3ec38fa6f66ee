//! Pages of host tasks come with the host pages (actions on selected hosts) and the task page.
