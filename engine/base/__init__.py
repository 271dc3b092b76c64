"""The base layer: what every other layer (and the notifiers) may use, and which uses nothing
of the project: the error tree, the clock, failpoints, atomic files, the domain's fixed
vocabulary and the strict YAML reader."""
