"""Input and output serializers, one module per area."""
