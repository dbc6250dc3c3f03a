"""Arrays that know where their samples are in the patient: ``viewer.image`` and ``viewer.volume``.

A :class:`SpatialArray` is a numpy array (a subclass: every numpy function takes it) with a
:class:`Grid`: the millimetres per index step and the patient direction of each of its
leading *spatial* axes, and the patient position of index 0. An image is ``[row, column]``
(a colour image ``[row, column, channel]``, the channel axis not spatial), a volume
``[slice, row, column]``.

Attributes, all in the array's own axis order except the affine
    ``spacing``      mm per step along each spatial axis: ``(row, column)`` for an image
                     (PixelSpacing's order), ``(slice, row, column)`` for a volume
    ``origin``       patient position (LPS, mm) of the centre of sample ``[0, 0(, 0)]``:
                     ImagePositionPatient of an image, of the volume's first slice
    ``orientation``  the 6 direction cosines of the last two spatial axes, as
                     ImageOrientationPatient: along a row (increasing column), then down a
                     column (increasing row)
    ``affine``       4x4, ``patient = affine @ (i, j, k, 1)`` for sample ``[k, j, i]`` (column,
                     row, slice: the reverse of the axis order, as :class:`ohifpy.volume.
                     VolumeGeometry` and NIfTI/ITK have it; a volume's is its geometry's). A
                     2-D array's third column is the unit normal of its plane
    ``dataset``      the pydicom Dataset it comes from (a volume's: its first image's)
    Each is None where the images do not say (no PixelSpacing, no plane).
    :meth:`SpatialArray.to_patient` takes indices in the array's axis order.

What keeps the attributes (numpy operations degrade to a plain ``ndarray`` otherwise)
    * basic indexing (integers, slices with any step, ``...``): ``hu[100:120, ::2]`` keeps
      its spacing (times the step), orientation (flipped by a negative step) and origin
      (moved to its first sample); an integer drops its axis (``vol[10]`` is slice 10);
    * element-wise arithmetic and comparisons whose result has the shape of a spatial
      operand (``hu * 2``, ``hu > 300``, ``np.clip``, ``np.where`` does not: a plain array);
    * a reduction along spatial axes (``vol.max(axis=0)``, ``vol.mean(axis=1)``): the other
      axes keep their spacing and direction, the origin stays that of index 0 of the
      reduced axis (a MIP along the slices lies in the first slice's plane); over every
      spatial axis it is a plain array or number;
    * ``.T``, ``transpose``, ``swapaxes``, ``np.moveaxis``, ``np.flip``, ``np.rot90``,
      ``copy``, ``astype``.
    Everything else (fancy and boolean indexing, ``reshape`` to another shape, ``np.stack``,
    ``dot``/``@``, ``argmax``, ...) gives a plain ndarray. A function that moves samples
    without changing the shape (``np.roll``, ``np.sort``) keeps the attributes of its input:
    ``np.asarray(x)`` drops them.

``viewer.image`` and ``viewer.volume`` are read-only views of the frames the viewer holds
(no copy of a 100 MB volume): ``x.copy()`` (or any arithmetic) gives an array to write to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Self

import numpy as np
from pydicom import Dataset

__all__ = ["Grid", "SpatialArray"]


@dataclass(frozen=True, eq=False)
class Grid:
    """Where the samples of an array's ``axes`` leading axes are: mm per index step along
    each (``spacing``), the unit patient direction of each (``directions``, ``(axes, 3)``)
    and the patient position of index 0 (``origin``); each None when unknown."""

    axes: int
    spacing: tuple[float, ...] | None = None
    directions: np.ndarray | None = None
    origin: np.ndarray | None = None

    @classmethod
    def of_plane(cls, spacing: Sequence[float] | None, position: Sequence[float] | None,
                 orientation: Sequence[float] | None) -> Grid:
        """An image's grid from PixelSpacing, ImagePositionPatient, ImageOrientationPatient."""
        directions = None
        if orientation is not None:
            cosines = np.asarray(orientation, dtype=float).reshape(2, 3)
            directions = _unit(cosines[::-1])  # rows go down the column cosine
        return cls(2, None if spacing is None else tuple(float(s) for s in spacing),
                   directions, None if position is None else np.asarray(position, dtype=float))

    @classmethod
    def of_affine(cls, affine: np.ndarray) -> Grid:
        """A volume's grid from an affine mapping ``(i, j, k, 1)`` (column, row, slice)."""
        steps = np.asarray(affine, dtype=float)[:3, 2::-1].T  # slice, row, column
        spacing = np.linalg.norm(steps, axis=1)
        return cls(3, tuple(float(s) for s in spacing), steps / spacing[:, None],
                   np.asarray(affine, dtype=float)[:3, 3].copy())

    @property
    def steps(self) -> np.ndarray | None:
        """Patient mm per index step along each axis, ``(axes, 3)``; None when unknown."""
        if self.spacing is None or self.directions is None:
            return None
        return self.directions * np.asarray(self.spacing)[:, None]

    @property
    def affine(self) -> np.ndarray | None:
        """4x4, ``(i, j, k, 1)`` (reversed axis order) -> patient mm; 2 or 3 axes only."""
        steps = self.steps
        if steps is None or self.origin is None or self.axes not in (2, 3):
            return None
        affine = np.eye(4)
        affine[:3, :self.axes] = steps[::-1].T
        if self.axes == 2:
            affine[:3, 2] = _unit(np.cross(steps[1], steps[0]))
        affine[:3, 3] = self.origin
        return affine

    def index(self, parts: Sequence[int | slice], shape: Sequence[int]) -> Grid:
        """The grid of ``array[parts]`` (one integer or slice per spatial axis)."""
        spacing: list[float] = []
        directions: list[np.ndarray] = []
        shift = np.zeros(3)
        moved = False
        steps = self.steps
        for axis, (part, size) in enumerate(zip(parts, shape, strict=True)):
            if isinstance(part, slice):
                start, _, step = part.indices(size)
                offset = start
                if self.spacing is not None:
                    spacing.append(self.spacing[axis] * abs(step))
                if self.directions is not None:
                    directions.append(self.directions[axis] * (1 if step > 0 else -1))
            else:
                offset = part % size if size else part
            if offset:
                moved = True
                if steps is not None:
                    shift += offset * steps[axis]
        origin = self.origin
        if moved and origin is not None:
            origin = None if steps is None else origin + shift
        kept = sum(isinstance(p, slice) for p in parts)
        return Grid(kept, tuple(spacing) if self.spacing is not None else None,
                    np.asarray(directions).reshape(kept, 3) if self.directions is not None
                    else None, origin)

    def without(self, dropped: set[int]) -> Grid:
        """The grid with these axes reduced away (the origin stays that of their index 0)."""
        keep = [a for a in range(self.axes) if a not in dropped]
        return Grid(len(keep),
                    None if self.spacing is None else tuple(self.spacing[a] for a in keep),
                    None if self.directions is None else self.directions[keep], self.origin)

    def permuted(self, order: Sequence[int]) -> Grid:
        """The grid with its axes in ``order`` (a permutation of its axes)."""
        order = list(order)
        return replace(self,
                       spacing=None if self.spacing is None
                       else tuple(self.spacing[a] for a in order),
                       directions=None if self.directions is None else self.directions[order])


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


class SpatialArray(np.ndarray):
    """A numpy array with a patient :class:`Grid` on its leading axes and the Dataset it
    came from (see the module's docstring for what keeps them)."""

    grid: Grid | None
    dataset: Dataset | None

    def __new__(cls, values: Any, grid: Grid, dataset: Dataset | None = None,
                *, writeable: bool = True) -> Self:
        array = np.asarray(values).view(cls)
        if grid.axes > array.ndim:
            raise ValueError(f"a grid of {grid.axes} axes on an array of {array.ndim}")
        array.grid, array.dataset = grid, dataset
        if not writeable:
            array.flags.writeable = False
        return array

    def __array_finalize__(self, obj: Any) -> None:
        parent = obj if isinstance(obj, SpatialArray) else None
        self.dataset = None if parent is None else parent.dataset
        self.grid = parent.grid if parent is not None and parent.shape == self.shape else None

    # ------------------------------------------------------------ attributes

    @property
    def spacing(self) -> tuple[float, ...] | None:
        """mm per index step along each spatial axis, in axis order; None when unknown."""
        return None if self.grid is None else self.grid.spacing

    @property
    def origin(self) -> np.ndarray | None:
        """Patient position (mm) of sample ``[0, 0(, 0)]``'s centre; None when unknown."""
        return None if self.grid is None or self.grid.origin is None else self.grid.origin.copy()

    @property
    def orientation(self) -> np.ndarray | None:
        """ImageOrientationPatient of the last two spatial axes (6 values); None when unknown."""
        if self.grid is None or self.grid.directions is None or self.grid.axes < 2:
            return None
        return np.concatenate([self.grid.directions[-1], self.grid.directions[-2]])

    @property
    def affine(self) -> np.ndarray | None:
        """4x4: ``patient = affine @ (i, j, k, 1)`` for ``array[k, j, i]``; None when unknown."""
        return None if self.grid is None else self.grid.affine

    def to_patient(self, indices: Any) -> np.ndarray:
        """Patient positions (mm) of samples given by indices in the array's axis order:
        ``(..., axes)`` -> ``(..., 3)``; fractional indices interpolate."""
        steps = None if self.grid is None else self.grid.steps
        if steps is None or self.grid is None or self.grid.origin is None:
            raise ValueError("this array has no patient geometry (no spacing or no plane)")
        points = np.asarray(indices, dtype=float)
        if points.shape[-1:] != (self.grid.axes,):
            raise ValueError(f"indices must end in an axis of {self.grid.axes}, not "
                             f"shape {points.shape}")
        return self.grid.origin + points @ steps

    # ------------------------------------------------------------ numpy protocols

    def __getitem__(self, key: Any) -> Any:
        result = super().__getitem__(key)
        if not isinstance(result, SpatialArray):
            return result
        parts = None if self.grid is None else _basic_parts(key, self.ndim)
        if parts is None or self.grid is None:
            return result.view(np.ndarray)
        result.grid = self.grid.index(parts[:self.grid.axes], self.shape[:self.grid.axes])
        return _plain_if_lost(result)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        if "where" in kwargs:  # a mask of ours would come back here
            kwargs["where"] = _plain(kwargs["where"])
        results = getattr(ufunc, method)(*(_plain(x) for x in inputs), **kwargs)
        if out is not None:  # written into the given arrays, whose attributes stay
            return out[0] if len(out) == 1 else out
        grid, dataset = _result_grid(ufunc, method, inputs, kwargs)
        if ufunc.nout > 1:
            return tuple(_with_grid(r, grid, dataset) for r in results)
        return _with_grid(results, grid, dataset)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _plain_if_lost(super().__array_function__(func, types, args, kwargs))

    def transpose(self, *axes: Any) -> Any:
        order = _axes_order(axes, self.ndim)
        result = super().transpose(*axes)
        if isinstance(result, SpatialArray):
            grid = self.grid
            spatial = grid.axes if grid is not None else 0
            if grid is not None and sorted(order[:spatial]) == list(range(spatial)):
                result.grid = grid.permuted(order[:spatial])
            else:
                result.grid = None
        return _plain_if_lost(result)

    @property
    def T(self) -> Any:
        return self.transpose()

    @property
    def mT(self) -> Any:
        return self.swapaxes(-1, -2)

    def swapaxes(self, axis1: int, axis2: int) -> Any:  # type: ignore[override]
        order = list(range(self.ndim))
        order[axis1], order[axis2] = order[axis2], order[axis1]
        return self.transpose(order)


def _degrading(name: str, *, always: bool = False) -> Any:
    """ndarray's method ``name`` giving a plain ndarray where the grid is lost (``always``:
    whatever the shape, for results that are no samples of the array: indices, products)."""
    method = getattr(np.ndarray, name)

    def degraded(self: SpatialArray, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        return _plain(result) if always else _plain_if_lost(result)

    degraded.__name__ = degraded.__qualname__ = name
    degraded.__doc__ = method.__doc__
    return degraded


for _name in ("reshape", "ravel", "flatten", "squeeze", "repeat", "take", "compress",
              "diagonal", "argmax", "argmin"):
    setattr(SpatialArray, _name, _degrading(_name))
for _name in ("dot", "argsort", "searchsorted"):
    setattr(SpatialArray, _name, _degrading(_name, always=True))


def _plain(value: Any) -> Any:
    return value.view(np.ndarray) if isinstance(value, SpatialArray) else value


def _plain_if_lost(value: Any) -> Any:
    """A result that lost its grid as a plain ndarray (lists and tuples of results too)."""
    if isinstance(value, SpatialArray):
        return value.view(np.ndarray) if value.grid is None or value.grid.axes == 0 else value
    if isinstance(value, (tuple, list)):
        return type(value)(_plain_if_lost(v) for v in value)
    return value


def _with_grid(value: Any, grid: Grid | None, dataset: Dataset | None) -> Any:
    if grid is None or grid.axes == 0 or not isinstance(value, np.ndarray) or value.ndim < grid.axes:
        return value
    result = value.view(SpatialArray)
    result.grid, result.dataset = grid, dataset
    return result


def _result_grid(ufunc: np.ufunc, method: str, inputs: Sequence[Any],
                 kwargs: dict[str, Any]) -> tuple[Grid | None, Dataset | None]:
    """The grid a ufunc's result keeps (see the module's docstring), and its dataset."""
    spatial = [x for x in inputs if isinstance(x, SpatialArray) and x.grid is not None]
    if not spatial:
        return None, None
    if method == "__call__" and ufunc.signature is None:
        shape = np.broadcast_shapes(*(np.shape(x) for x in inputs))
        first = next((x for x in spatial if x.shape == shape), None)
        return (None, None) if first is None else (first.grid, first.dataset)
    source, grid = spatial[0], spatial[0].grid
    if inputs[0] is not source or grid is None:
        return None, None
    if method == "accumulate":
        return grid, source.dataset
    if method != "reduce":
        return None, None
    axis = kwargs.get("axis", 0)
    axes = range(source.ndim) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    dropped = {int(a) % source.ndim for a in axes}
    if kwargs.get("keepdims", False):
        return grid, source.dataset
    return grid.without(dropped), source.dataset


def _axes_order(axes: tuple[Any, ...], ndim: int) -> list[int]:
    """``transpose``'s arguments as the full permutation (reversed when none)."""
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        axes = () if axes[0] is None else tuple(axes[0])
    if not axes:
        return list(range(ndim))[::-1]
    return [int(a) % ndim for a in axes]


def _basic_parts(key: Any, ndim: int) -> list[int | slice] | None:
    """One integer or slice per axis for a basic index (ints, slices, one Ellipsis);
    None for anything else (new axes, arrays, lists, booleans)."""
    items = key if isinstance(key, tuple) else (key,)
    parts: list[Any] = []
    ellipsis = False
    for item in items:
        if item is Ellipsis:
            if ellipsis:
                return None
            ellipsis = True
            parts.append(item)
        elif isinstance(item, slice):
            parts.append(item)
        elif isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
            parts.append(int(item))
        else:
            return None
    count = len(parts) - ellipsis
    if count > ndim:
        return None
    fill = [slice(None)] * (ndim - count)
    if ellipsis:
        at = parts.index(Ellipsis)
        return parts[:at] + fill + parts[at + 1:]
    return parts + fill
