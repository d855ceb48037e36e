"""Toy problems of the paper: the 2-D navigation SGD toy (:mod:`seemlab.toy.nav`) and Baird's
counterexample (:mod:`seemlab.toy.baird`)."""

from seemlab.toy import baird
from seemlab.toy.nav import (
    DATA,
    N_ACTIONS,
    NavConfig,
    NavData,
    OneStep,
    ToyRun,
    action_set,
    appb_agreement,
    code_config,
    greedy,
    make_data,
    make_net,
    one_step_errors,
    paper_config,
    seem_log,
    td_error,
    single_thread,
    train,
    train_many,
)

__all__ = [
    "baird",
    "DATA",
    "N_ACTIONS",
    "NavConfig",
    "NavData",
    "OneStep",
    "ToyRun",
    "action_set",
    "appb_agreement",
    "code_config",
    "greedy",
    "make_data",
    "make_net",
    "one_step_errors",
    "paper_config",
    "seem_log",
    "td_error",
    "single_thread",
    "train",
    "train_many",
]
