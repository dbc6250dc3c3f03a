"""The viewer's state in the worker: the open session, decoded frames, and the answers' shapes.

:mod:`~ohifpy.viewer.session` holds the data sources and open display sets,
:mod:`~ohifpy.viewer.frames` the decoded-frame cache and the loading of whole stacks,
:mod:`~ohifpy.viewer.presenters` every JSON shape the page receives,
:mod:`~ohifpy.viewer.overlay_items` the overlay corners a site configures, and
:mod:`~ohifpy.viewer.tables` the tables the page builds its controls from. The worker
bridge (:mod:`ohifpy.worker_api`) only dispatches requests to them.
"""
