"""envc.codegen"""
