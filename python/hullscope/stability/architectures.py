"""A zoo of small image classifiers for the stability studies (torch imported lazily).

Every architecture is built by ``build(name, side=28, in_channels=1, n_classes=10)`` and comes with

* ``last_hidden``: the name of the module whose output is the last hidden representation (after its
  nonlinearity), the input of the linear classifier;
* ``depth_layers``: a short list of module names, input to output, at which D_f, G_f and R_f are
  reported against depth (blocks rather than every leaf, so that the figures stay readable);
* a one-line description, and the kind of spatial pooling it does (``pooling``).

The zoo spans the knobs the pooling theory cares about: no spatial structure at all (``fc``), local
max pooling (``lenet``), strided convolutions (``cnn_strided``), no spatial pooling before a dense
readout (``cnn_unstrided``), global average pooling (``small_cnn_gap``, the ResNets), with and without
BatchNorm. ``small_cnn_gap`` and ``small_resnet`` are :func:`hullscope.models.small_cnn` and
:func:`hullscope.models.small_resnet`; ``small_resnet_nobn`` is the latter with its BatchNorm layers
replaced by identities.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

from .._torch import require_torch

__all__ = ["ARCHITECTURES", "Architecture", "build", "check_architecture", "has_conv"]


@dataclass(frozen=True)
class Architecture:
    """Description of one zoo entry (see the module docstring)."""
    name: str
    description: str
    pooling: str
    batchnorm: bool
    last_hidden: str
    depth_layers: Tuple[str, ...]
    factory: Callable[..., object]


def _conv_out(side: int, stride: int, times: int) -> int:
    for _ in range(times):
        side = (side + 2 - 3) // stride + 1  # 3x3 kernel, padding 1
    return side


def _fc(side: int, in_channels: int, n_classes: int):
    nn = require_torch().nn
    return nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(in_channels * side * side, 256)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(256, 128)), ("relu2", nn.ReLU()),
        ("classifier", nn.Linear(128, n_classes)),
    ]))


def _lenet(side: int, in_channels: int, n_classes: int, batchnorm: bool = False):
    nn = require_torch().nn
    if side < 4:
        raise ValueError(f"side: a LeNet-style net needs images of side >= 4, got {side}")
    layers: List[Tuple[str, object]] = []
    cin = in_channels
    for k, cout in ((1, 16), (2, 32)):
        layers.append((f"conv{k}", nn.Conv2d(cin, cout, 5, padding=2)))
        if batchnorm:
            layers.append((f"bn{k}", nn.BatchNorm2d(cout)))
        layers += [(f"relu{k}", nn.ReLU()), (f"pool{k}", nn.MaxPool2d(2))]
        cin = cout
    s = side // 2 // 2
    layers += [("flatten", nn.Flatten()), ("fc", nn.Linear(32 * s * s, 128)), ("relu_fc", nn.ReLU()),
               ("classifier", nn.Linear(128, n_classes))]
    return nn.Sequential(OrderedDict(layers))


def _plain_cnn(side: int, in_channels: int, n_classes: int, stride: int, widths: Tuple[int, ...],
               batchnorm: bool = False):
    nn = require_torch().nn
    layers: List[Tuple[str, object]] = []
    cin = in_channels
    for k, cout in enumerate(widths, 1):
        layers.append((f"conv{k}", nn.Conv2d(cin, cout, 3, stride=stride, padding=1)))
        if batchnorm:
            layers.append((f"bn{k}", nn.BatchNorm2d(cout)))
        layers.append((f"relu{k}", nn.ReLU()))
        cin = cout
    s = _conv_out(side, stride, len(widths))
    layers += [("flatten", nn.Flatten()), ("fc", nn.Linear(cin * s * s, 128)), ("relu_fc", nn.ReLU()),
               ("classifier", nn.Linear(128, n_classes))]
    return nn.Sequential(OrderedDict(layers))


def _small_cnn(side: int, in_channels: int, n_classes: int):
    from ..models import small_cnn

    return small_cnn(in_channels=in_channels, n_classes=n_classes)


def _small_resnet(side: int, in_channels: int, n_classes: int, batchnorm: bool = True):
    from ..models import small_resnet

    net = small_resnet(in_channels=in_channels, n_classes=n_classes)
    if not batchnorm:
        _strip_batchnorm(net)
    return net


def _strip_batchnorm(module) -> None:
    """Replace every BatchNorm layer of ``module`` by an identity, in place."""
    torch = require_torch()
    for name, child in list(module.named_children()):
        if isinstance(child, torch.nn.modules.batchnorm._BatchNorm):
            setattr(module, name, torch.nn.Identity())
        else:
            _strip_batchnorm(child)


_STRIDED = (16, 32, 64)
_UNSTRIDED = (16, 16, 16)

ARCHITECTURES: Dict[str, Architecture] = {a.name: a for a in [
    Architecture("fc", "fully connected 256-128, ReLU", "none (no spatial structure)", False, "relu2",
                 ("relu1", "relu2"), _fc),
    Architecture("lenet", "LeNet-style: 2 x (conv5x5-ReLU-maxpool2), FC-128", "local max pooling", False,
                 "relu_fc", ("relu1", "pool1", "relu2", "pool2", "relu_fc"), _lenet),
    Architecture("lenet_bn", "LeNet-style with BatchNorm after each conv", "local max pooling", True,
                 "relu_fc", ("relu1", "pool1", "relu2", "pool2", "relu_fc"),
                 lambda s, i, n: _lenet(s, i, n, batchnorm=True)),
    Architecture("cnn_strided", "3 x (conv3x3 stride 2-ReLU) 16-32-64, FC-128", "strided convolutions", False,
                 "relu_fc", ("relu1", "relu2", "relu3", "relu_fc"),
                 lambda s, i, n: _plain_cnn(s, i, n, 2, _STRIDED)),
    Architecture("cnn_strided_bn", "strided CNN with BatchNorm after each conv", "strided convolutions", True,
                 "relu_fc", ("relu1", "relu2", "relu3", "relu_fc"),
                 lambda s, i, n: _plain_cnn(s, i, n, 2, _STRIDED, batchnorm=True)),
    Architecture("cnn_unstrided", "3 x (conv3x3 stride 1-ReLU) 16-16-16, FC-128 on the full map",
                 "none before the dense readout", False, "relu_fc", ("relu1", "relu2", "relu3", "relu_fc"),
                 lambda s, i, n: _plain_cnn(s, i, n, 1, _UNSTRIDED)),
    Architecture("cnn_unstrided_bn", "unstrided CNN with BatchNorm after each conv",
                 "none before the dense readout", True, "relu_fc", ("relu1", "relu2", "relu3", "relu_fc"),
                 lambda s, i, n: _plain_cnn(s, i, n, 1, _UNSTRIDED, batchnorm=True)),
    Architecture("small_cnn_gap", "hullscope.models.small_cnn: 3 convs, avgpool2, global average pool, "
                 "FC-64", "avgpool 2 + global average pooling", False, "relu4",
                 ("relu1", "relu2", "pool", "relu3", "gap", "relu4"), _small_cnn),
    Architecture("small_resnet", "hullscope.models.small_resnet: 3 residual blocks (2 strided), BatchNorm, "
                 "global average pool, FC-64", "strided blocks + global average pooling", True, "relu",
                 ("stem", "block1", "block2", "block3", "gap", "relu"), _small_resnet),
    Architecture("small_resnet_nobn", "small_resnet with its BatchNorm layers replaced by identities",
                 "strided blocks + global average pooling", False, "relu",
                 ("stem", "block1", "block2", "block3", "gap", "relu"),
                 lambda s, i, n: _small_resnet(s, i, n, batchnorm=False)),
]}


def check_architecture(name: str, arg: str = "architecture") -> Architecture:
    """The zoo entry called ``name``; a ValueError naming ``arg`` and listing the zoo otherwise."""
    if not isinstance(name, str) or name not in ARCHITECTURES:
        raise ValueError(f"{arg}: unknown architecture {name!r}; expected one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def build(name: str, side: int = 28, in_channels: int = 1, n_classes: int = 10):
    """Build the zoo's ``name`` for (in_channels, side, side) images and ``n_classes`` classes.

    Weights are drawn from torch's global generator: call ``torch.manual_seed`` first for a seeded net.
    """
    arch = check_architecture(name)
    for arg, v, lo in (("side", side, 4), ("in_channels", in_channels, 1), ("n_classes", n_classes, 2)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{arg}: expected an int >= {lo}, got {v!r}")
    return arch.factory(side, in_channels, n_classes)


def has_conv(model) -> bool:
    """Whether ``model`` has a convolution (channel shuffling changes nothing otherwise)."""
    torch = require_torch()
    return any(isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)) for m in model.modules())
