"""DeepSeek HPC Gateway generated protobuf packages."""
