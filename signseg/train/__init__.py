"""Train: labelled frames (:mod:`~signseg.train.frames`), augmentation that takes colour
shortcuts away (:mod:`~signseg.train.augment`), the training run (:mod:`~signseg.train.fit`),
scoring against labels (:mod:`~signseg.train.evaluate`) and adapting a model to a corpus
(:mod:`~signseg.train.adapt`)."""
