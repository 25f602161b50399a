"""The render worker's EGL device: the NVIDIA GPU it was given, else Mesa with a log line."""

from __future__ import annotations

import logging

import pytest

from rendering.egl_device import EglDevice, choose_device, list_devices
from rendering.renderer import worker_renderer

MESA = EglDevice(0, "EGL_MESA_device_software EGL_EXT_device_drm_render_node")
INTEL = EglDevice(1, "EGL_EXT_device_drm", drm_file="/dev/dri/card0")


def _nvidia(index: int, cuda: int | None) -> EglDevice:
    return EglDevice(index, "EGL_NV_device_cuda EGL_EXT_device_drm", cuda_device=cuda)


def test_the_worker_draws_on_the_gpu_named_in_cuda_visible_devices():
    devices = [MESA, _nvidia(1, 0), _nvidia(2, 1), _nvidia(3, 2), INTEL]
    assert choose_device(devices, {"CUDA_VISIBLE_DEVICES": "2"}).index == 3
    assert choose_device(devices, {"CUDA_VISIBLE_DEVICES": "1,2"}).index == 2
    assert choose_device(devices, {}).index == 1  # no GPU named: the first NVIDIA device
    no_ids = [MESA, _nvidia(1, None), _nvidia(2, None)]  # no EGL_CUDA_DEVICE_NV answer
    assert choose_device(no_ids, {"CUDA_VISIBLE_DEVICES": "1"}).index == 2


def test_override_and_no_nvidia_device():
    devices = [MESA, _nvidia(1, 0)]
    assert choose_device(devices, {"FACEFACTORY_EGL_DEVICE": "0",
                                   "CUDA_VISIBLE_DEVICES": "0"}) is MESA
    with pytest.raises(ValueError, match="FACEFACTORY_EGL_DEVICE='7'"):
        choose_device(devices, {"FACEFACTORY_EGL_DEVICE": "7"})
    assert choose_device([MESA, INTEL], {"CUDA_VISIBLE_DEVICES": "0"}) is None


def test_this_machine_lists_its_egl_devices_without_an_nvidia_one():
    devices = list_devices()
    assert all(d.index == i for i, d in enumerate(devices))
    assert not any(d.is_nvidia for d in devices)  # CI and this machine have no GPU


@pytest.mark.parametrize(("environ", "said"), [({}, "rendering on the CPU"),
                                               ({"CUDA_VISIBLE_DEVICES": "0"},
                                                "although a GPU was asked for")])
def test_fallback_logs_the_renderer_it_uses(caplog, environ, said):
    with caplog.at_level(logging.INFO, logger="rendering.renderer"):
        renderer = worker_renderer(32, 32, environ)
    try:
        assert renderer.software and "llvmpipe" in renderer.gl_renderer
        [record] = caplog.records
        assert record.levelno == logging.WARNING
        assert renderer.gl_renderer in record.getMessage() and said in record.getMessage()
    finally:
        renderer.release()
