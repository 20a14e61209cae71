"""envc.codegen.rust"""
