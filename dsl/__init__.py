"""envc.dsl"""
