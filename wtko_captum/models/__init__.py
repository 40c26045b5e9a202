"""Built-in architectures, each registered in the ``wtko_captum.models`` entry-point group."""
