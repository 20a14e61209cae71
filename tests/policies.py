"""Deterministic policies for `envc verify --policy` tests (`tests/policies.py:NAME`)."""

import numpy as np


def first_legal(observation, legal_action_mask):
    """The lowest legal action of every environment."""
    return np.argmax(np.asarray(legal_action_mask), axis=1)


def observation_greedy(observation, legal_action_mask):
    """A policy that reads the observation: the legal action with the highest score, the score
    of action a being a fixed pseudo-random function of the observation and a."""
    obs = np.asarray(observation).reshape(len(legal_action_mask), -1).astype(np.float64)
    weights = np.sin(np.arange(obs.shape[1] * legal_action_mask.shape[1], dtype=np.float64) * 0.37)
    scores = obs @ weights.reshape(obs.shape[1], -1)
    return np.argmax(np.where(legal_action_mask, scores, -np.inf), axis=1)


def cartpole_lean(observation, legal_action_mask):
    """CartPole: push toward the side the pole leans to (angle plus angular velocity)."""
    obs = np.asarray(observation)
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


def raises(observation, legal_action_mask):
    """A policy with a bug of its own (for the CLI's report of it)."""
    return observation.no_such_attribute
