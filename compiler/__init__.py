"""envc.compiler"""
