"""Feature spaces for the hull analyses: torch activations and 2-D wavelet coefficients."""
from .torch_features import extract, final_linear, last_hidden_layer, list_layers
from .wavelets import wavelet_features

__all__ = ["extract", "final_linear", "last_hidden_layer", "list_layers", "wavelet_features"]
