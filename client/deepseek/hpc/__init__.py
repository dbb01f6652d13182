"""DeepSeek HPC Gateway API (package deepseek.hpc)."""
