"""Request-scoped dependencies shared by every feature: the services and the unit of work.

The unit of work is the one place a request's transaction commits. It ends before the
response is sent (`scope="function"`), so a client that gets a 201/202 can read what it
created at once, and work queued with `after_commit` is enqueued only once the rows it
needs are committed.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from pix_erase.container import Services
from pix_erase.platform.db import UnitOfWork


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def _unit_of_work(services: ServicesDep) -> AsyncIterator[UnitOfWork]:
    async with services.sessionmaker() as session:
        uow = UnitOfWork(session)
        try:
            yield uow
        except BaseException:
            await uow.rollback()
            raise
        await uow.commit()


UoW = Annotated[UnitOfWork, Depends(_unit_of_work, scope="function")]
