{
  "targets": [
    {
      "target_name": "tunekit_gemm",
      "sources": ["src/gemm.cc"],
      "cflags_cc": ["-O3", "-mavx2", "-mfma", "-std=c++17", "-fno-math-errno"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
