"""Which EGL device a render worker draws on: an NVIDIA GPU when the worker has one, else
Mesa's default (llvmpipe, software).

A Dask render worker on a GPU host is started one per GPU, with that GPU in
``CUDA_VISIBLE_DEVICES`` and the resource ``GPU=1`` (README, "GPU render workers"). EGL lists
every GPU whatever ``CUDA_VISIBLE_DEVICES`` says, so the worker picks its device itself:

1. ``FACEFACTORY_EGL_DEVICE=<n>``: EGL device ``n``, whatever it is (an explicit override);
2. else the first entry ``k`` of ``CUDA_VISIBLE_DEVICES`` (an integer): the NVIDIA device
   whose ``EGL_CUDA_DEVICE_NV`` is ``k``, or else the ``k``-th NVIDIA device in EGL's order;
3. else the first NVIDIA device;
4. else none: the default EGL display (Mesa; llvmpipe where there is no GPU).

NVIDIA devices are those with the ``EGL_NV_device_cuda`` extension (NVIDIA's EGL), the same
test MuJoCo's and dm_control's EGL back ends rely on when they call ``eglQueryDevicesEXT``.
Devices are listed through libEGL with ``ctypes`` (``EGL_EXT_device_enumeration`` and
``EGL_EXT_device_query``); the choice is a pure function (:func:`choose_device`), tested on
made-up device lists. Not yet run on an NVIDIA machine in this project (no GPU was lent).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass

EGL_EXTENSIONS = 0x3055
EGL_VENDOR = 0x3053
EGL_CUDA_DEVICE_NV = 0x323A
EGL_DRM_DEVICE_FILE_EXT = 0x3233
EGL_RENDERER_EXT = 0x335F
MAX_DEVICES = 32
OVERRIDE_ENV = "FACEFACTORY_EGL_DEVICE"


@dataclass(frozen=True)
class EglDevice:
    """One EGL device: its index in ``eglQueryDevicesEXT`` order, its extension string, the
    CUDA device number (NVIDIA only), and its DRM file and renderer name where EGL tells."""

    index: int
    extensions: str
    cuda_device: int | None = None
    drm_file: str | None = None
    renderer: str | None = None

    @property
    def is_nvidia(self) -> bool:
        return "EGL_NV_device_cuda" in self.extensions.split()

    def describe(self) -> str:
        parts = [f"EGL device {self.index}"]
        if self.is_nvidia:
            parts.append(f"NVIDIA, CUDA device {self.cuda_device}")
        for value in (self.renderer, self.drm_file):
            if value:
                parts.append(value)
        return ", ".join(parts)


def choose_device(devices: list[EglDevice], environ: dict[str, str]) -> EglDevice | None:
    """The device a worker should draw on (module docstring, rules 1-4); None: EGL's default.

    ``environ`` holds ``FACEFACTORY_EGL_DEVICE`` and ``CUDA_VISIBLE_DEVICES`` as the worker
    sees them. A bad override raises ValueError naming the variable.
    """
    override = environ.get(OVERRIDE_ENV, "").strip()
    if override:
        if not override.isdigit() or int(override) >= len(devices):
            raise ValueError(f"{OVERRIDE_ENV}={override!r}: not one of the "
                             f"{len(devices)} EGL devices (0-{len(devices) - 1})")
        return devices[int(override)]
    nvidia = [d for d in devices if d.is_nvidia]
    if not nvidia:
        return None
    visible = environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    if visible.isdigit():
        wanted = int(visible)
        by_cuda = [d for d in nvidia if d.cuda_device == wanted]
        if by_cuda:
            return by_cuda[0]
        if wanted < len(nvidia):
            return nvidia[wanted]
    return nvidia[0]


def list_devices() -> list[EglDevice]:
    """The EGL devices of this machine (empty where libEGL or device enumeration is missing)."""
    egl = _load_egl()
    if egl is None:
        return []
    query_devices = _proc(egl, "eglQueryDevicesEXT", ctypes.c_uint, ctypes.c_int,
                          ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int))
    query_string = _proc(egl, "eglQueryDeviceStringEXT", ctypes.c_char_p, ctypes.c_void_p,
                         ctypes.c_int)
    query_attrib = _proc(egl, "eglQueryDeviceAttribEXT", ctypes.c_uint, ctypes.c_void_p,
                         ctypes.c_int, ctypes.POINTER(ctypes.c_ssize_t))
    if query_devices is None or query_string is None:
        return []
    handles = (ctypes.c_void_p * MAX_DEVICES)()
    count = ctypes.c_int(0)
    if not query_devices(MAX_DEVICES, handles, ctypes.byref(count)):
        return []
    devices = []
    for index in range(count.value):
        handle = handles[index]
        extensions = (query_string(handle, EGL_EXTENSIONS) or b"").decode(errors="replace")
        cuda = None
        if "EGL_NV_device_cuda" in extensions.split() and query_attrib is not None:
            value = ctypes.c_ssize_t(-1)
            if query_attrib(handle, EGL_CUDA_DEVICE_NV, ctypes.byref(value)):
                cuda = int(value.value)
        drm = renderer = None
        if "EGL_EXT_device_drm" in extensions.split():
            drm = (query_string(handle, EGL_DRM_DEVICE_FILE_EXT) or b"").decode() or None
        if "EGL_EXT_device_query_name" in extensions.split():
            renderer = (query_string(handle, EGL_RENDERER_EXT) or b"").decode() or None
        devices.append(EglDevice(index, extensions, cuda, drm, renderer))
    return devices


def _load_egl() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("EGL") or "libEGL.so.1"
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def _proc(egl: ctypes.CDLL, name: str, restype: type, *argtypes: type):
    """An EGL extension function through ``eglGetProcAddress`` (None where missing)."""
    get = egl.eglGetProcAddress
    get.restype, get.argtypes = ctypes.c_void_p, (ctypes.c_char_p,)
    address = get(name.encode())
    if not address:
        return None
    return ctypes.CFUNCTYPE(restype, *argtypes)(address)


def worker_device(environ: dict[str, str] | None = None) -> EglDevice | None:
    """:func:`choose_device` for this process's devices and environment."""
    return choose_device(list_devices(), dict(os.environ if environ is None else environ))
