"""The worker pool: training and tracing leave the page process.

Workers (local processes by default, or actors on a Ray cluster) own the runs; the page process holds a
coordinator (`client.get_pool()`) and, per learner, a `client.RemoteLab` with the Lab's methods. Identical runs
are computed once and shared read-only (`run.SharedRun`), each learner watching through a cursor of their own.
The modules a page imports (`client`, `backends`) are torch-free; `worker` and `run` load torch in the workers.
"""
