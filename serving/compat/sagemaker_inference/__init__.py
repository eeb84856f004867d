"""Stand-in for ``sagemaker_inference`` (see ``serving.compat``): content_types, encoder,
decoder and errors, with the toolkit's behaviour."""
