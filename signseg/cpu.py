"""What this CPU offers, read from Linux's ``/proc/cpuinfo``: its model name and instruction-set
flags. They decide bfloat16 training (:func:`signseg.train.fit.auto_precision`) and how fast,
and how exactly, ONNX Runtime's int8 kernels run (``bench/int8.py``, docs/performance.md)."""
from __future__ import annotations

import os
import platform
from pathlib import Path

CPUINFO = "/proc/cpuinfo"

#: The flags that set int8 kernels apart: without a VNNI unit, fused u8 x s8 kernels add
#: products in pairs into 16 bits (:mod:`signseg.infer.quantize`).
INT8_UNITS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def _fields(cpuinfo: str | os.PathLike, key: str) -> list[str]:
    """The values of every ``key : value`` line of ``cpuinfo`` (one per core); [] where the file
    cannot be read (systems other than Linux)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return []
    return [value.strip() for name, _, value in (line.partition(":") for line in text.splitlines())
            if name.strip() == key]


def cpu_flags(cpuinfo: str | os.PathLike = CPUINFO) -> frozenset[str]:
    """Every instruction-set flag any core lists (empty where ``cpuinfo`` cannot be read)."""
    return frozenset(flag for line in _fields(cpuinfo, "flags") for flag in line.split())


def cpu_model(cpuinfo: str | os.PathLike = CPUINFO) -> str:
    """The CPU's model name (from ``cpuinfo``, else what Python's ``platform`` knows)."""
    names = _fields(cpuinfo, "model name")
    return names[0] if names else (platform.processor() or platform.machine())


def int8_units(cpuinfo: str | os.PathLike = CPUINFO) -> str:
    """The model and the flags of :data:`INT8_UNITS` it has, in one line for a benchmark's header."""
    flags = cpu_flags(cpuinfo)
    units = [f for f in INT8_UNITS if f in flags]
    return f"{cpu_model(cpuinfo)}: {' '.join(units) or 'none of ' + '/'.join(INT8_UNITS)}"
