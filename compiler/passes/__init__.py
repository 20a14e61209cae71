"""envc.compiler.passes"""
