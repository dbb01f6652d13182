"""Generated code of the deepseek.hpc.v1 API: messages (*_pb2), gRPC stubs and
servicers (*_pb2_grpc). Produced by scripts/gen_protos.py; do not edit."""
