//! Contract templates: the variable catalogue, checking and rendering.
