"""Run: whole corpora into one mask file. :mod:`~signseg.run.corpus` finds the videos
(:mod:`~signseg.run.jobs`), :mod:`~signseg.run.flow` is the one flow decode -> batch -> infer ->
postprocess -> write, :mod:`~signseg.run.workers` spreads it over processes or a cluster, and
:mod:`~signseg.run.pipeline` drives a run: resume, shards adopted into the output, failures."""
