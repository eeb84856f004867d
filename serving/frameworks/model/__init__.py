"""The ``model`` framework: no model defaults, the codecs for input and output; the base of
custom-algorithm containers and of every other framework."""
