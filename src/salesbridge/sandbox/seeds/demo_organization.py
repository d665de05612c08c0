"""The demo seed's organization: business units, staff (sellers, managers, a disabled user), teams and
connection roles."""

from __future__ import annotations

from datetime import timedelta

from salesbridge.sandbox.organization.foundation import (
    ROOT_BUSINESS_UNIT_ID,
    SALESPERSON_ROLE_ID,
    SYSTEM_ADMINISTRATOR_ROLE_ID,
)
from salesbridge.sandbox.seeds.demo_writer import DISABLED_STAFF, STAFF, DemoWriter, Principal
from salesbridge.sandbox.seeds.vocabulary import CITIES, COUNTRIES, HISTORY_DAYS, USER_DOMAIN, ascii_slug


class DemoOrganization(DemoWriter):
    """Adds the organization's structure to :class:`DemoWriter`."""

    def business_units(self) -> None:
        org = self.state.config.organization_id
        created = self.now - timedelta(days=HISTORY_DAYS + 30)
        for key, name, city in (("emea", "Sales EMEA", "Madrid"), ("americas", "Sales Americas", "New York")):
            unit_id = self.new_id()
            self.units[key] = unit_id
            self.put(
                "businessunit",
                {
                    "businessunitid": unit_id,
                    "name": name,
                    "parentbusinessunitid": ROOT_BUSINESS_UNIT_ID,
                    "parentbusinessunitid__type": "businessunit",
                    "organizationid": org,
                    "organizationid__type": "organization",
                    "divisionname": "Sales",
                    "costcenter": f"CC-{'100' if key == 'emea' else '200'}",
                    "address1_city": city,
                    **self.stamps(created, created),
                },
            )

    def staff(self) -> None:
        created = self.now - timedelta(days=HISTORY_DAYS + 20)
        cities = {c.name: c for c in CITIES}
        director_id: str | None = None
        managers: dict[str, str] = {}
        for staff in (*STAFF, DISABLED_STAFF):
            disabled = staff is DISABLED_STAFF
            user_id = self.new_id()
            email = f"{ascii_slug(staff.first)}.{ascii_slug(staff.last)}@{USER_DOMAIN}"
            city = cities[staff.city]
            is_manager = "Gerente" in staff.title or "Manager" in staff.title
            manager = director_id if is_manager else managers.get(staff.unit, director_id)
            modified = self.past(200, 1) if disabled else self.modified_after(created)
            self.put(
                "systemuser",
                {
                    "systemuserid": user_id,
                    "firstname": staff.first,
                    "lastname": staff.last,
                    "fullname": f"{staff.first} {staff.last}",
                    "internalemailaddress": email,
                    "domainname": email,
                    "azureactivedirectoryobjectid": self.new_id(),
                    "accessmode": 0,
                    "isdisabled": 1 if disabled else 0,
                    "disabledreason": "Usuario deshabilitado en Microsoft Entra ID" if disabled else None,
                    "islicensed": 0 if disabled else 1,
                    "isintegrationuser": 0,
                    "setupuser": 0,
                    "title": staff.title,
                    "jobtitle": staff.title,
                    "mobilephone": self.phone(city),
                    "address1_city": city.name,
                    "address1_country": COUNTRIES[city.country].name,
                    "businessunitid": self.units[staff.unit],
                    "businessunitid__type": "businessunit",
                    "parentsystemuserid": manager,
                    "parentsystemuserid__type": "systemuser" if manager else None,
                    "transactioncurrencyid": self.state.config.base_currency_id,
                    "transactioncurrencyid__type": "transactioncurrency",
                    **self.stamps(created, modified),
                },
            )
            self.state.security.assign_role(user_id, SALESPERSON_ROLE_ID)
            principal = Principal(
                user_id,
                "systemuser",
                self.units[staff.unit],
                f"{staff.first} {staff.last}",
                email,
                staff.lang,
                staff.unit == "americas",
            )
            self.principals[user_id] = principal
            if director_id is None:
                director_id = user_id
                self.state.security.assign_role(user_id, SYSTEM_ADMINISTRATOR_ROLE_ID)
            elif is_manager:
                managers[staff.unit] = user_id
            if disabled:
                self.disabled = principal
            else:
                self.users.append(principal)
                if staff.unit != "root":
                    self.sellers[principal.americas].append(principal)
        # An integration (application) user, as every real org has a few.
        app_id = self.new_id()
        self.put(
            "systemuser",
            {
                "systemuserid": app_id,
                "firstname": "#",
                "lastname": "Marketing Sync",
                "fullname": "# Marketing Sync",
                "applicationid": self.new_id(),
                "azureactivedirectoryobjectid": self.new_id(),
                "internalemailaddress": f"marketing-sync@{USER_DOMAIN}",
                "domainname": f"marketing-sync@{USER_DOMAIN}",
                "accessmode": 4,
                "isdisabled": 0,
                "islicensed": 0,
                "isintegrationuser": 0,
                "setupuser": 0,
                "businessunitid": ROOT_BUSINESS_UNIT_ID,
                "businessunitid__type": "businessunit",
                **self.stamps(created + timedelta(days=15), created + timedelta(days=15)),
            },
        )
        self.state.security.assign_role(app_id, SALESPERSON_ROLE_ID)

    def teams(self) -> None:
        if not self.has("team"):
            return
        director = self.users[0]
        created = self.now - timedelta(days=HISTORY_DAYS)
        by_name = {u.name: u for u in self.users}
        for name, team_type, description, members in (
            (
                "Key Accounts",
                0,
                "Cuentas estratégicas gestionadas en equipo.",
                ("Lucía Fernández", "Javier Moreno", "Michael Carter", "Carmen Ruiz"),
            ),
            (
                "Deal Desk",
                1,
                "Revisión de precios y condiciones de las grandes ofertas.",
                ("Javier Moreno", "Michael Carter", "Diego Ramírez"),
            ),
        ):
            team_id = self.new_id()
            self.put(
                "team",
                {
                    "teamid": team_id,
                    "name": name,
                    "teamtype": team_type,
                    "membershiptype": 0,
                    "isdefault": 0,
                    "systemmanaged": 0,
                    "description": description,
                    "businessunitid": ROOT_BUSINESS_UNIT_ID,
                    "businessunitid__type": "businessunit",
                    "administratorid": director.id,
                    "administratorid__type": "systemuser",
                    "organizationid": self.state.config.organization_id,
                    "createdby": director.id,
                    "createdby__type": "systemuser",
                    "modifiedby": director.id,
                    "modifiedby__type": "systemuser",
                    **self.stamps(created, self.modified_after(created)),
                },
            )
            for member in members:
                self.state.security.add_team_member(team_id, by_name[member].id)
            if team_type == 0:
                self.state.security.assign_team_role(team_id, SALESPERSON_ROLE_ID)
                self.team = Principal(team_id, "team", ROOT_BUSINESS_UNIT_ID, name, None, "es", False)
                self.team_members = [by_name[m] for m in members]
                self.principals[team_id] = self.team

    def connection_roles(self) -> None:
        if not self.has("connectionrole") or not self.has("connection"):
            return
        created = self.now - timedelta(days=HISTORY_DAYS)
        for name, description in (
            ("Stakeholder", "Participa en la decisión de compra."),
            ("Decision Maker", "Toma la decisión final."),
            ("Influencer", "Influye en la decisión."),
            ("Technical Buyer", "Valida la solución técnica."),
        ):
            existing = self.state.storage.scalar(
                'SELECT connectionroleid FROM "connectionrole" WHERE name = ?', (name,)
            )
            if existing is not None:
                self.stakeholder_roles.append(str(existing))
                continue
            role_id = self.new_id()
            self.put(
                "connectionrole",
                {
                    "connectionroleid": role_id,
                    "name": name,
                    "category": 1000,  # Stakeholder
                    "description": description,
                    "statecode": 0,
                    "statuscode": 1,
                    "organizationid": self.state.config.organization_id,
                    "organizationid__type": "organization",
                    **self.stamps(created, created),
                },
            )
            self.stakeholder_roles.append(role_id)

    def owner_for(self, americas: bool) -> Principal:
        return self.rng.choice(self.sellers[americas])
