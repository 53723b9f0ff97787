"""Custom Keras layers shared by the apps.

Every layer here is registered with Keras serialization under the
`beyond_pixels` package, so models that use it save and load as `.keras` files.
"""
