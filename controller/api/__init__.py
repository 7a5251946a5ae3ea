"""The controller's public gRPC servicers.

Each servicer method is thin: validate the request, call a domain service, turn
the result into a message.  Errors are raised as :mod:`cumulo.errors` and mapped
to status codes by the interceptor's one table.  Nothing here imports
``controller.db``.
"""
