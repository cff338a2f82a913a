"""Vision-language model families: how each stores, preprocesses and places its image rows.

Torch-free at import. ``_s2`` holds Bunny-v1.1's S² glue around the SigLIP trunk in numpy.
"""
