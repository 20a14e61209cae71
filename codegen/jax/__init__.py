"""envc.codegen.jax"""
