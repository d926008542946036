"""API views, one module per area: translate input, call a service or selector, shape output."""
