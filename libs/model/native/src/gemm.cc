// Single-precision GEMM for the model's matrix products, working in place on the WebAssembly heap
// of the tfjs wasm backend (no copies). Blocked like BLIS: B is packed into 16-column panels, A into
// 6-row panels, and a 6x16 AVX2/FMA micro-kernel keeps the whole C tile in 12 registers.
#include <node_api.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

constexpr int MR = 6;
constexpr int NR = 16;
constexpr int KC = 256;
constexpr int MC = 96;    // multiple of MR
constexpr int NC = 4096;  // multiple of NR

struct Matrix {
  const float* data;
  int64_t row_stride;  // distance between (i, p) and (i + 1, p)
  int64_t col_stride;  // distance between (i, p) and (i, p + 1)
  float at(int64_t i, int64_t p) const { return data[i * row_stride + p * col_stride]; }
};

float* aligned_buffer(size_t floats) {
  return static_cast<float*>(std::aligned_alloc(64, ((floats * sizeof(float) + 63) / 64) * 64));
}

// A block [mc, kc] → panels of MR rows, each stored p-major: out[p * MR + r].
void pack_a(const Matrix& a, int64_t i0, int64_t p0, int mc, int kc, float* out) {
  for (int ir = 0; ir < mc; ir += MR) {
    const int mr = std::min(MR, mc - ir);
    for (int p = 0; p < kc; ++p) {
      for (int r = 0; r < mr; ++r) out[p * MR + r] = a.at(i0 + ir + r, p0 + p);
      for (int r = mr; r < MR; ++r) out[p * MR + r] = 0.f;
    }
    out += kc * MR;
  }
}

// B block [kc, nc] → panels of NR columns, each stored p-major: out[p * NR + c].
void pack_b(const Matrix& b, int64_t p0, int64_t j0, int kc, int nc, float* out) {
  for (int jr = 0; jr < nc; jr += NR) {
    const int nr = std::min(NR, nc - jr);
    for (int p = 0; p < kc; ++p) {
      float* dst = out + p * NR;
      if (nr == NR && b.col_stride == 1) {
        std::memcpy(dst, b.data + (p0 + p) * b.row_stride + (j0 + jr), NR * sizeof(float));
      } else {
        for (int c = 0; c < nr; ++c) dst[c] = b.at(p0 + p, j0 + jr + c);
        for (int c = nr; c < NR; ++c) dst[c] = 0.f;
      }
    }
    out += kc * NR;
  }
}

// C[MR x NR] (ldc) = (accumulate ? C : 0) + a_panel · b_panel over kc.
void kernel_6x16(int kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (accumulate) {
    c00 = _mm256_loadu_ps(c + 0 * ldc); c01 = _mm256_loadu_ps(c + 0 * ldc + 8);
    c10 = _mm256_loadu_ps(c + 1 * ldc); c11 = _mm256_loadu_ps(c + 1 * ldc + 8);
    c20 = _mm256_loadu_ps(c + 2 * ldc); c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
    c30 = _mm256_loadu_ps(c + 3 * ldc); c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
    c40 = _mm256_loadu_ps(c + 4 * ldc); c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
    c50 = _mm256_loadu_ps(c + 5 * ldc); c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
  } else {
    c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
  }
  for (int p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    __m256 ar;
    ar = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(ar, b0, c00); c01 = _mm256_fmadd_ps(ar, b1, c01);
    ar = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(ar, b0, c10); c11 = _mm256_fmadd_ps(ar, b1, c11);
    ar = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(ar, b0, c20); c21 = _mm256_fmadd_ps(ar, b1, c21);
    ar = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(ar, b0, c30); c31 = _mm256_fmadd_ps(ar, b1, c31);
    ar = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(ar, b0, c40); c41 = _mm256_fmadd_ps(ar, b1, c41);
    ar = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(ar, b0, c50); c51 = _mm256_fmadd_ps(ar, b1, c51);
    a += MR;
    b += NR;
  }
  _mm256_storeu_ps(c + 0 * ldc, c00); _mm256_storeu_ps(c + 0 * ldc + 8, c01);
  _mm256_storeu_ps(c + 1 * ldc, c10); _mm256_storeu_ps(c + 1 * ldc + 8, c11);
  _mm256_storeu_ps(c + 2 * ldc, c20); _mm256_storeu_ps(c + 2 * ldc + 8, c21);
  _mm256_storeu_ps(c + 3 * ldc, c30); _mm256_storeu_ps(c + 3 * ldc + 8, c31);
  _mm256_storeu_ps(c + 4 * ldc, c40); _mm256_storeu_ps(c + 4 * ldc + 8, c41);
  _mm256_storeu_ps(c + 5 * ldc, c50); _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}

// C [m, n] (row-major, ldc = n) = A [m, k] · B [k, n] for strided A and B.
void gemm(const Matrix& a, const Matrix& b, float* c, int m, int n, int k, float* pa, float* pb) {
  float edge[MR * NR];
  if (k == 0) {
    std::memset(c, 0, sizeof(float) * m * n);
    return;
  }
  for (int jc = 0; jc < n; jc += NC) {
    const int nc = std::min(NC, n - jc);
    for (int pc = 0; pc < k; pc += KC) {
      const int kc = std::min(KC, k - pc);
      pack_b(b, pc, jc, kc, nc, pb);
      for (int ic = 0; ic < m; ic += MC) {
        const int mc = std::min(MC, m - ic);
        pack_a(a, ic, pc, mc, kc, pa);
        for (int jr = 0; jr < nc; jr += NR) {
          const int nr = std::min(NR, nc - jr);
          for (int ir = 0; ir < mc; ir += MR) {
            const int mr = std::min(MR, mc - ir);
            float* ct = c + static_cast<int64_t>(ic + ir) * n + jc + jr;
            const float* ap = pa + (ir / MR) * kc * MR;
            const float* bp = pb + (jr / NR) * kc * NR;
            if (mr == MR && nr == NR) {
              kernel_6x16(kc, ap, bp, ct, n, pc > 0);
            } else {
              // Edge tile: compute into a full-size scratch tile, then copy the valid part.
              if (pc > 0) for (int r = 0; r < mr; ++r) std::memcpy(edge + r * NR, ct + static_cast<int64_t>(r) * n, nr * sizeof(float));
              kernel_6x16(kc, ap, bp, edge, NR, pc > 0);
              for (int r = 0; r < mr; ++r) std::memcpy(ct + static_cast<int64_t>(r) * n, edge + r * NR, nr * sizeof(float));
            }
          }
        }
      }
    }
  }
}

bool cpu_supported() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

napi_value Throw(napi_env env, const char* message) {
  napi_throw_error(env, nullptr, message);
  return nullptr;
}

// sgemm(buffer, aOffset, bOffset, cOffset, batch, aBatchStride, bBatchStride, m, n, k, transposeA, transposeB)
// Offsets are byte offsets into `buffer`; batch strides are in floats (0 broadcasts one matrix).
napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != 12) return Throw(env, "sgemm: expected 12 arguments");
  void* base = nullptr;
  size_t length = 0;
  bool is_buffer = false;
  napi_is_arraybuffer(env, argv[0], &is_buffer);
  if (!is_buffer) return Throw(env, "sgemm: first argument must be an ArrayBuffer");
  napi_get_arraybuffer_info(env, argv[0], &base, &length);
  int64_t v[9];
  for (int i = 0; i < 9; ++i) napi_get_value_int64(env, argv[i + 1], &v[i]);
  bool ta = false, tb = false;
  napi_get_value_bool(env, argv[10], &ta);
  napi_get_value_bool(env, argv[11], &tb);
  const int64_t a_off = v[0], b_off = v[1], c_off = v[2], batch = v[3], sa = v[4], sb = v[5];
  const int m = static_cast<int>(v[6]), n = static_cast<int>(v[7]), k = static_cast<int>(v[8]);
  auto fits = [&](int64_t off, int64_t floats) { return off >= 0 && off % 4 == 0 && off + floats * 4 <= static_cast<int64_t>(length); };
  if (!fits(a_off, (batch - 1) * sa + int64_t(m) * k) || !fits(b_off, (batch - 1) * sb + int64_t(k) * n) || !fits(c_off, batch * int64_t(m) * n)) {
    return Throw(env, "sgemm: operands lie outside the buffer");
  }
  static thread_local float* pa = aligned_buffer(MC * KC);
  static thread_local float* pb = aligned_buffer(KC * NC);
  char* bytes = static_cast<char*>(base);
  for (int64_t i = 0; i < batch; ++i) {
    const float* ad = reinterpret_cast<const float*>(bytes + a_off) + i * sa;
    const float* bd = reinterpret_cast<const float*>(bytes + b_off) + i * sb;
    float* cd = reinterpret_cast<float*>(bytes + c_off) + i * int64_t(m) * n;
    // A is [m, k] (or [k, m] transposed); B is [k, n] (or [n, k] transposed).
    const Matrix a = ta ? Matrix{ad, 1, m} : Matrix{ad, k, 1};
    const Matrix b = tb ? Matrix{bd, 1, k} : Matrix{bd, n, 1};
    gemm(a, b, cd, m, n, k, pa, pb);
  }
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value fn, supported;
  napi_create_function(env, "sgemm", NAPI_AUTO_LENGTH, Sgemm, nullptr, &fn);
  napi_set_named_property(env, exports, "sgemm", fn);
  napi_get_boolean(env, cpu_supported(), &supported);
  napi_set_named_property(env, exports, "supported", supported);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
