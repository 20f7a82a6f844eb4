#pragma once
/// Export of trained parameters to NumPy's .npz format, so Python users can `numpy.load` them.
///
/// An .npz is a ZIP archive of .npy files. Each entry here is stored (not compressed) and holds
/// one parameter as NPY format 1.0: "\x93NUMPY" | 1 | 0 | u16 header length | header (a Python
/// dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (..), } padded with spaces
/// to a multiple of 64 bytes, ending in '\n') | float32 little-endian data in C order.
/// Entries carry a fixed timestamp (1980-01-01), so the same parameters give the same bytes.

#include <string>

#include "tensor/nn/flat_params.hpp"

namespace troupe::train {

/// Writes `params` [layout.total] to `path` atomically as an .npz with one "<name>.npy" array per
/// parameter, of the parameter's shape. Throws troupe::error if the layout is inconsistent, a
/// name is empty, repeated or contains '/', '\\' or NUL, or the archive would need ZIP64 (4 GiB).
void export_npz(const std::string& path, const nn::param_layout& layout, const float* params);

} // namespace troupe::train
