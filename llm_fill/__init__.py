"""envc.llm_fill"""
