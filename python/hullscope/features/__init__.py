"""Feature spaces for the hull analyses: torch activations, 2-D wavelet and shearlet coefficients."""
from .torch_features import extract, final_linear, last_hidden_layer, list_layers
from .shearlets import shearlet_features, shearlet_inverse, shearlet_transform
from .wavelets import wavelet_features

__all__ = ["extract", "final_linear", "last_hidden_layer", "list_layers", "shearlet_features", "shearlet_inverse",
           "shearlet_transform", "wavelet_features"]
