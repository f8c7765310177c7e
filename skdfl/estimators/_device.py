"""The ``device`` parameter: a torch device that this machine has.

torch accepts names of devices it cannot use (``"mps"`` on Linux,
``"cuda:7"`` on a one-GPU machine) and fails later, deep inside, with an
error about generators or ordinals. The estimators check first. A fit
seeds the generators of its device (``seeded``) and leaves the caller's as
they were.
"""

import torch

#: Device kinds the estimators train on, with how to tell whether one is usable.
_BACKENDS = {
    "cuda": lambda: (torch.cuda.is_available(), torch.cuda.device_count()),
    "mps": lambda: (bool(getattr(torch.backends, "mps", None))
                    and torch.backends.mps.is_available(), 1),
    "xpu": lambda: (hasattr(torch, "xpu") and torch.xpu.is_available(),
                    torch.xpu.device_count() if hasattr(torch, "xpu") else 0),
}


def available_devices():
    """Names of the devices this machine has, ``"cpu"`` first.

    Examples
    --------
    >>> from skdfl.estimators._device import available_devices
    >>> available_devices()[0]
    'cpu'
    """
    names = ["cpu"]
    for kind, usable in _BACKENDS.items():
        ok, count = usable()
        if ok:
            names += [kind] if kind == "mps" else [f"{kind}:{i}" for i in range(count)]
    return names


def check_device(device, name="device"):
    """The ``torch.device`` named by ``device``, refused unless this machine has it.

    Parameters
    ----------
    device : str or torch.device
        E.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    name : str, default="device"
        The parameter's name, used in the message.

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        Naming the parameter, the devices available here and what came.

    Examples
    --------
    >>> from skdfl.estimators._device import check_device
    >>> check_device("cpu")
    device(type='cpu')
    >>> check_device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: device must name a torch device available on this machine ...
    """
    here = available_devices()
    expected = (f"{name} must name a torch device available on this machine (here: "
                f"{', '.join(repr(d) for d in here)})")
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{expected}; got {device!r}, which is not a device name.") from None
    if parsed.type == "cpu":
        return parsed
    if parsed.type not in _BACKENDS:
        raise ValueError(f"{expected}; got {device!r}: skdfl trains on 'cpu', 'cuda', 'mps' "
                         "or 'xpu' devices.")
    usable, count = _BACKENDS[parsed.type]()
    if not usable:
        raise ValueError(f"{expected}; got {name}={device!r}, which is not available: this "
                         f"machine has no {parsed.type.upper()} device (or torch was built "
                         "without it).")
    if parsed.index is not None and parsed.index >= count:
        raise ValueError(f"{expected}; got {name}={device!r}, which is not available: this "
                         f"machine has {count} {parsed.type.upper()} device(s), numbered "
                         "from 0.")
    return parsed


class seeded:
    """Seed torch's generators for one fit without touching the caller's state."""

    def __init__(self, seed, device):
        self.seed, self.device = seed, device

    def __enter__(self):
        devices = []
        if self.device.type == "cuda":
            devices = [self.device.index or torch.cuda.current_device()]
        self._fork = torch.random.fork_rng(devices=devices)
        self._fork.__enter__()
        torch.manual_seed(self.seed)

    def __exit__(self, *exc):
        return self._fork.__exit__(*exc)
