"""`manage.py staff_add USERNAME --role ROLE --municipality CODE [--site NAME]`: create or
update a staff account.

The password never goes on the command line (it would stay in the shell's history and in the
process list): it is read from STAFF_PASSWORD, else asked for when a terminal is attached. The
work is `staff_account_save`; this only parses, asks and prints.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from reservations.services.staff import ROLE_GROUPS, StaffAccountError, staff_account_save

logger = logging.getLogger("reservations.staff_add")

PASSWORD_VARIABLE = "STAFF_PASSWORD"  # noqa: S105 (the variable's name, not a password)


class Command(BaseCommand):
    help = (
        "職員アカウントを作成または更新します（役割と担当自治体・担当会場）。"
        f"パスワードは環境変数 {PASSWORD_VARIABLE} から読み、なければ端末で入力します。"
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username", help="職員のユーザー名")
        parser.add_argument(
            "--role",
            required=True,
            choices=list(ROLE_GROUPS),
            help=(
                "役割: operator=予約オペレーター, supervisor=コールセンター監督者, "
                "manager=コールセンター責任者, venue=会場スタッフ, exporter=接種記録出力, "
                "admin=自治体管理者, health=保健所職員, doctor=健康観察医師"
            ),
        )
        parser.add_argument(
            "--municipality",
            metavar="CODE",
            action="append",
            required=True,
            help="担当自治体の自治体コード（6桁）。複数の自治体を担当するなら繰り返す",
        )
        parser.add_argument(
            "--site",
            metavar="NAME",
            action="append",
            default=[],
            help="担当会場の名称（個別接種の医療機関の職員など、自院だけを担当する場合）。繰り返し可",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        exists = get_user_model().objects.filter(username=username.strip()).exists()
        password = self._password(new_account=not exists)
        try:
            result = staff_account_save(
                username=username,
                role=options["role"],
                municipality_codes=options["municipality"],
                site_names=options["site"],
                password=password,
            )
        except StaffAccountError as exc:
            raise CommandError(exc.message) from None

        logger.info(
            "staff_add by os:%s: user %s %s, role %s, municipalities %s, sites %s, "
            "password changed %s",
            getpass.getuser(),
            result.user.pk,
            "created" if result.created else "updated",
            options["role"],
            ",".join(m.code for m in result.municipalities),
            ",".join(str(s.pk) for s in result.sites),
            result.password_changed,
        )
        where = (
            "、".join(s.name for s in result.sites)
            if result.sites
            else "、".join(f"{m.name}（{m.code}）" for m in result.municipalities)
        )
        message = (
            _("職員 %(user)s を作成しました（役割: %(role)s、担当: %(where)s）。")
            if result.created
            else _("職員 %(user)s を更新しました（役割: %(role)s、担当: %(where)s）。")
        )
        self.stdout.write(
            self.style.SUCCESS(
                message
                % {
                    "user": result.user.username,
                    "role": ROLE_GROUPS[options["role"]],
                    "where": where,
                }
            )
        )
        if not result.created and not result.password_changed:
            self.stdout.write(_("パスワードは変更していません。"))

    def _password(self, *, new_account: bool) -> str | None:
        """STAFF_PASSWORD, else what is typed at the terminal; None keeps an existing account's
        password (no variable and no terminal, or an empty answer when updating)."""
        from_environment = os.environ.get(PASSWORD_VARIABLE)
        if from_environment:
            return from_environment
        if not sys.stdin.isatty():
            if new_account:
                raise CommandError(
                    _(
                        "パスワードがありません。環境変数 %(variable)s に設定するか、"
                        "端末から実行して入力してください。"
                    )
                    % {"variable": PASSWORD_VARIABLE}
                )
            return None
        prompt = (
            _("パスワード: ") if new_account else _("新しいパスワード（空欄なら変更しません）: ")
        )
        typed = getpass.getpass(prompt)
        if not typed:
            if new_account:
                raise CommandError(_("パスワードが入力されませんでした。"))
            return None
        if getpass.getpass(_("パスワード（確認）: ")) != typed:
            raise CommandError(_("確認のパスワードが一致しません。"))
        return typed
