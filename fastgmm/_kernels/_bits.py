"""Bit casts between float64 and int64 inside compiled loops.

An LLVM ``bitcast`` costs nothing and keeps loops vectorisable; it lets the
vectorised exp and log build or split a float's exponent field in registers
instead of going through an int64 view of a scratch array.
"""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def as_float(typingctx, i):
    """The float64 whose bits are the int64 ``i``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def as_int(typingctx, x):
    """The int64 holding the bits of the float64 ``x``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen
