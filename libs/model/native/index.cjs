// Loads the compiled addon; callers treat a throw as "not available".
module.exports = require('./build/Release/tunekit_gemm.node');
