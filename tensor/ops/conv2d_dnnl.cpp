#include "tensor/ops/conv2d_dnnl.hpp"

#include "common/error.hpp"

#if TROUPE_WITH_DNNL

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "tensor/blas.hpp"

// The OpenMP runtime oneDNN runs on (libgomp, linked through troupe::dnnl). Declared here rather
// than taken from <omp.h>, which clang ships only with its own runtime.
extern "C" {
int omp_get_max_threads(void);
void omp_set_num_threads(int threads);
}

namespace troupe::tensor::dnnl_conv {

using dnnl::memory;

/// Copies of x [N, C, H, W] and w [OC, C, KH, KW] in the forward's layouts; empty where the
/// caller's own buffer already had that layout (backward then reads the caller's again).
struct saved {
  memory x, w;
  bool bias = false;
};

namespace {

using tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;

/// A tensor in one pass: each has its own reorder (fixed source and destination layouts) and
/// its own scratch buffer in oneDNN's layout.
enum role : std::size_t { fwd_x, fwd_w, fwd_b, fwd_y, data_dy, data_w, data_dx, wei_x, wei_dy, wei_dw, wei_db, roles };

/// One geometry's primitives; the backward ones are made on the first backward.
struct entry {
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  bool has_backward = false;
  dnnl::convolution_backward_data::primitive_desc data_pd;
  dnnl::convolution_backward_data data;
  dnnl::convolution_backward_weights::primitive_desc wei_pd;
  dnnl::convolution_backward_weights wei;
  std::array<std::optional<dnnl::reorder>, roles> reorders;
  std::array<memory, roles> scratch; // reused call after call: never what a forward keeps for backward
};

/// n, c, h, w, oc, kh, kw, sh, sw, ph, pw, bias, threads.
using key = std::array<std::size_t, 13>;

/// One per thread: oneDNN streams and library-owned scratchpads are not to be shared between
/// threads running at once, and the trainer's replicas each run on their own thread.
struct context {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  std::map<key, entry> cache;
};

context& this_thread() {
  thread_local context c;
  return c;
}

/// The caller's thread count (that of OpenBLAS, which the trainer sets to 1 per replica), applied
/// to this thread's OpenMP team: oneDNN would otherwise start one thread per core in every replica.
int apply_threads() {
  const int threads = std::max(1, blas::num_threads());
  if (omp_get_max_threads() != threads)
    omp_set_num_threads(threads);
  return threads;
}

memory::dims dims(std::initializer_list<std::size_t> d) {
  memory::dims out;
  for (std::size_t v : d)
    out.push_back(static_cast<memory::dim>(v));
  return out;
}

/// The caller's layouts: x [N, C, H, W], w [OC, C, KH, KW], b [OC], y [N, OC, OH, OW].
struct user_descs {
  memory::desc x, w, b, y;
  explicit user_descs(const conv2d_geometry& g)
      : x(dims({g.n, g.c, g.h, g.w}), f32, tag::nchw), w(dims({g.oc, g.c, g.kh, g.kw}), f32, tag::oihw),
        b(dims({g.oc}), f32, tag::x), y(dims({g.n, g.oc, g.oh, g.ow}), f32, tag::nchw) {}
};

/// The operation descriptors share these: layouts left to oneDNN (format_tag::any), PyTorch's
/// output size. The right padding is the one that reaches the last output exactly, as oneDNN's
/// own tools compute it (it may be below ph, or negative, where the stride drops input rows).
struct op_shapes {
  memory::desc x, w, b, y;
  memory::dims strides, pad_l, pad_r;
  op_shapes(const conv2d_geometry& g, bool bias)
      : x(dims({g.n, g.c, g.h, g.w}), f32, tag::any), w(dims({g.oc, g.c, g.kh, g.kw}), f32, tag::any),
        b(bias ? memory::desc(dims({g.oc}), f32, tag::any) : memory::desc()),
        y(dims({g.n, g.oc, g.oh, g.ow}), f32, tag::any), strides(dims({g.sh, g.sw})),
        pad_l(dims({g.ph, g.pw})), pad_r{static_cast<memory::dim>((g.oh - 1) * g.sh + g.kh) -
                                             static_cast<memory::dim>(g.h + g.ph),
                                         static_cast<memory::dim>((g.ow - 1) * g.sw + g.kw) -
                                             static_cast<memory::dim>(g.w + g.pw)} {}
};

std::string geometry_str(const conv2d_geometry& g) {
  return fmt::format("x [{}, {}, {}, {}], w [{}, {}, {}, {}], stride ({}, {}), padding ({}, {})", g.n, g.c, g.h, g.w,
                     g.oc, g.c, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw);
}

/// This thread's primitives for g, made on first use. Many batch sizes (a last partial batch per
/// epoch, evaluation) make new entries; past 64 the cache starts over rather than grow unbounded.
entry& lookup(context& c, const conv2d_geometry& g, bool bias, int threads) {
  const key k{g.n, g.c, g.h, g.w, g.oc, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, bias, static_cast<std::size_t>(threads)};
  if (auto it = c.cache.find(k); it != c.cache.end())
    return it->second;
  if (c.cache.size() >= 64)
    c.cache.clear();
  entry e;
  try {
    const op_shapes s(g, bias);
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, s.x, s.w,
                                      s.b, s.y, s.strides, s.pad_l, s.pad_r);
    e.fwd_pd = dnnl::convolution_forward::primitive_desc(d, c.eng);
    e.fwd = dnnl::convolution_forward(e.fwd_pd);
  } catch (const dnnl::error& err) {
    TROUPE_ENFORCE(false, "oneDNN has no forward convolution for {}: {}", geometry_str(g), err.what());
  }
  return c.cache.emplace(k, std::move(e)).first->second;
}

/// The first of the candidate layouts (x, dy) for which oneDNN has more than its reference kernel.
template <class PrimitiveDesc, class Make>
PrimitiveDesc first_fast(std::initializer_list<std::pair<memory::desc, memory::desc>> candidates, Make make) {
  PrimitiveDesc pd;
  for (const auto& [x, y] : candidates) {
    try {
      pd = make(x, y);
    } catch (const dnnl::error&) {
      continue;
    }
    if (std::string(pd.impl_info_str()).rfind("ref", 0) != 0)
      break;
  }
  TROUPE_ENFORCE(pd, "oneDNN has no backward convolution for these shapes");
  return pd;
}

/// The backward passes first try the forward's own layouts for x and dy (dy arrives like y): no
/// reorder between the passes. A weight gradient of a single input channel has no blocked kernel
/// for them, and the one oneDNN picks by itself pads the channel to a block of 8 or 16 (8× the
/// work: 4 ms for conv1's against 0.5 ms); plain NCHW gives it a GEMM-based kernel instead.
void make_backward(context& c, entry& e, const conv2d_geometry& g, bool bias) {
  if (e.has_backward)
    return;
  const op_shapes s(g, bias);
  const user_descs u(g);
  try {
    e.data_pd = first_fast<dnnl::convolution_backward_data::primitive_desc>(
        {{s.x, e.fwd_pd.dst_desc()}, {s.x, s.y}}, [&](const memory::desc& x, const memory::desc& y) {
          dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, x, s.w, y, s.strides, s.pad_l,
                                                  s.pad_r);
          return dnnl::convolution_backward_data::primitive_desc(d, c.eng, e.fwd_pd);
        });
    e.wei_pd = first_fast<dnnl::convolution_backward_weights::primitive_desc>(
        {{e.fwd_pd.src_desc(), e.fwd_pd.dst_desc()}, {u.x, u.y}, {s.x, s.y}},
        [&](const memory::desc& x, const memory::desc& y) {
          dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, x, s.w, s.b, y, s.strides,
                                                     s.pad_l, s.pad_r);
          return dnnl::convolution_backward_weights::primitive_desc(d, c.eng, e.fwd_pd);
        });
    e.data = dnnl::convolution_backward_data(e.data_pd);
    e.wei = dnnl::convolution_backward_weights(e.wei_pd);
  } catch (const std::exception& err) {
    TROUPE_ENFORCE(false, "oneDNN has no backward convolution for {}: {}", geometry_str(g), err.what());
  }
  e.has_backward = true;
}

memory& scratch(context& c, entry& e, role r, const memory::desc& d) {
  if (!e.scratch[r])
    e.scratch[r] = memory(d, c.eng);
  return e.scratch[r];
}

/// Copies `from` into `to` (other layout); with accumulate, adds onto `to` (a sum post-op).
void reorder(context& c, entry& e, role r, memory from, memory to, bool accumulate = false) {
  if (!e.reorders[r]) {
    dnnl::primitive_attr attr;
    if (accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    e.reorders[r] = dnnl::reorder(dnnl::reorder::primitive_desc(from, to, attr));
  }
  e.reorders[r]->execute(c.strm, from, to);
}

/// `user` in the layout `want`: the caller's buffer itself when the layouts agree, else `have`
/// when it already holds the data in that layout, else a reorder into `*keep` (a new buffer that
/// outlives the call) or into the role's scratch.
memory in_layout(context& c, entry& e, role r, const memory& user, const memory::desc& want,
                 const memory& have = memory(), memory* keep = nullptr) {
  if (user.get_desc() == want)
    return user;
  if (have && have.get_desc() == want)
    return have;
  memory dst = keep ? (*keep = memory(want, c.eng)) : scratch(c, e, r, want);
  reorder(c, e, r, user, dst);
  return dst;
}

memory wrap(context& c, const memory::desc& d, const float* data) {
  return memory(d, c.eng, const_cast<float*>(data)); // oneDNN's memory has no const view; inputs are only read
}

} // namespace

bool available() {
  return true;
}

void require() {}

std::shared_ptr<const saved> forward(const float* x, const float* w, const float* b, float* y, const conv2d_geometry& g,
                                     bool keep) {
  const int threads = apply_threads();
  context& c = this_thread();
  entry& e = lookup(c, g, b != nullptr, threads);
  const user_descs u(g);
  auto s = keep ? std::make_shared<saved>() : nullptr;
  if (s)
    s->bias = b != nullptr;

  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, in_layout(c, e, fwd_x, wrap(c, u.x, x), e.fwd_pd.src_desc(), memory(), s ? &s->x : nullptr)},
      {DNNL_ARG_WEIGHTS,
       in_layout(c, e, fwd_w, wrap(c, u.w, w), e.fwd_pd.weights_desc(), memory(), s ? &s->w : nullptr)}};
  if (b)
    args[DNNL_ARG_BIAS] = in_layout(c, e, fwd_b, wrap(c, u.b, b), e.fwd_pd.bias_desc());
  const memory user_y = wrap(c, u.y, y);
  const bool direct_y = e.fwd_pd.dst_desc() == u.y;
  args[DNNL_ARG_DST] = direct_y ? user_y : scratch(c, e, fwd_y, e.fwd_pd.dst_desc());
  e.fwd.execute(c.strm, args);
  if (!direct_y)
    reorder(c, e, fwd_y, args[DNNL_ARG_DST], user_y);
  c.strm.wait();
  return s;
}

void backward(const saved& s, const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
              const conv2d_geometry& g) {
  if (!dx && !dw && !db)
    return;
  const int threads = apply_threads();
  context& c = this_thread();
  entry& e = lookup(c, g, s.bias, threads);
  make_backward(c, e, g, s.bias);
  const user_descs u(g);
  const memory user_dy = wrap(c, u.y, dy);

  memory data_dy_mem;
  if (dx) { // dx [N, C, H, W] += dy ⋆ᵀ w
    data_dy_mem = in_layout(c, e, data_dy, user_dy, e.data_pd.diff_dst_desc());
    const memory out = scratch(c, e, data_dx, e.data_pd.diff_src_desc());
    e.data.execute(c.strm, {{DNNL_ARG_DIFF_DST, data_dy_mem},
                            {DNNL_ARG_WEIGHTS, in_layout(c, e, data_w, wrap(c, u.w, w), e.data_pd.weights_desc(), s.w)},
                            {DNNL_ARG_DIFF_SRC, out}});
    reorder(c, e, data_dx, out, wrap(c, u.x, dx), true);
  }
  if (dw || db) { // dw [OC, C, KH, KW] += dy ⋆ x, db [OC] += Σ dy over N, OH, OW
    const memory dw_out = scratch(c, e, wei_dw, e.wei_pd.diff_weights_desc());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, in_layout(c, e, wei_x, wrap(c, u.x, x), e.wei_pd.src_desc(), s.x)},
        {DNNL_ARG_DIFF_DST, in_layout(c, e, wei_dy, user_dy, e.wei_pd.diff_dst_desc(), data_dy_mem)},
        {DNNL_ARG_DIFF_WEIGHTS, dw_out}};
    if (s.bias)
      args[DNNL_ARG_DIFF_BIAS] = scratch(c, e, wei_db, e.wei_pd.diff_bias_desc());
    e.wei.execute(c.strm, args);
    if (dw)
      reorder(c, e, wei_dw, dw_out, wrap(c, u.w, dw), true);
    if (db) {
      TROUPE_ENFORCE(s.bias, "conv2d (oneDNN): a bias gradient was asked of a forward without bias");
      reorder(c, e, wei_db, args[DNNL_ARG_DIFF_BIAS], wrap(c, u.b, db), true);
    }
  }
  c.strm.wait();
}

std::string implementations(const conv2d_geometry& g, bool bias) {
  context& c = this_thread();
  entry& e = lookup(c, g, bias, apply_threads());
  make_backward(c, e, g, bias);
  return fmt::format("forward {}, backward data {}, backward weights {}", e.fwd_pd.impl_info_str(),
                     e.data_pd.impl_info_str(), e.wei_pd.impl_info_str());
}

} // namespace troupe::tensor::dnnl_conv

#else // built without oneDNN: the backend exists only to say so

namespace troupe::tensor::dnnl_conv {

struct saved {};

bool available() {
  return false;
}

void require() {
  throw error("conv2d backend 'dnnl': this build has no oneDNN (configured with TROUPE_WITH_DNNL=OFF; install "
              "libdnnl-dev and configure a fresh build directory)");
}

std::shared_ptr<const saved> forward(const float*, const float*, const float*, float*, const conv2d_geometry&, bool) {
  require();
  return nullptr;
}

void backward(const saved&, const float*, const float*, const float*, float*, float*, float*, const conv2d_geometry&) {
  require();
}

std::string implementations(const conv2d_geometry&, bool) {
  require();
  return {};
}

} // namespace troupe::tensor::dnnl_conv

#endif
